"""Phylogenetic comparative methods on the tree index: parsimony and Mk models for discrete
traits; Brownian-motion ancestral states, imputation (uni- and multivariate), phylogenetic signal
(Blomberg's K, Pagel's lambda) and PGLS for continuous ones; runs on KG traits written back as
derived ``comparative`` graphs. Linear-time passes over level-grouped arrays
(:mod:`kg.comparative.tree`), checked against R (ape, phytools, nlme) in the tests. See
docs/comparative.md.
"""
