"""Phylogenetic comparative methods on the tree index: parsimony and Mk models for discrete
traits; Brownian-motion ancestral states, imputation, phylogenetic signal (Blomberg's K, Pagel's
lambda) and PGLS for continuous ones. Linear-time passes over level-grouped arrays
(:mod:`kg.comparative.tree`), checked against R (ape, phytools, nlme) in the tests.
"""
