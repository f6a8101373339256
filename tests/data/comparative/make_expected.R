# Expected values for tests/kg/comparative: run once with R (Debian r-base-core, r-cran-ape,
# r-cran-phytools, r-cran-nlme) from this directory:  Rscript make_expected.R
# Writes the trees (Newick), trait tables (TSV) and expected.json. CI does not need R.
# Everything is computed on the tree as read back from the written Newick, so both sides see
# the same branch lengths. Where R optimises (nlm, nlminb, optimize), the value of the function
# at R's reported parameters is recorded too, so tests can compare the function exactly and the
# optimum by log-likelihood.
suppressMessages({library(ape); library(phytools); library(nlme); library(jsonlite)})
set.seed(16)
out <- list(versions = list(R = R.version.string, ape = as.character(packageVersion("ape")),
                            phytools = as.character(packageVersion("phytools")),
                            nlme = as.character(packageVersion("nlme"))))

roundtrip <- function(tree, file) {
  write.tree(tree, file = file, digits = 17)
  read.tree(file)
}
# each internal node (R numbering) as two tips whose MRCA it is
node_keys <- function(tree) {
  n <- Ntip(tree)
  lapply((n + 1):(n + tree$Nnode), function(v) {
    tl <- extract.clade(tree, v)$tip.label
    c(tl[1], tl[length(tl)])
  })
}
write_table <- function(df, file) write.table(df, file, sep = "\t", quote = FALSE, row.names = FALSE)

# ---------------------------------------------------------------- mammal (continuous) -----
data(mammal.tree); data(mammal.data)
mt <- roundtrip(mammal.tree, "mammal.nwk")
x <- setNames(log(mammal.data$bodyMass), rownames(mammal.data))[mt$tip.label]
y <- setNames(log(mammal.data$homeRange), rownames(mammal.data))[mt$tip.label]
se <- setNames(round(runif(length(x), 0.05, 0.4), 3), names(x))
write_table(data.frame(taxon = names(x), x = sprintf("%.17g", x), y = sprintf("%.17g", y),
                       se = sprintf("%.17g", se)), "mammal.tsv")
m <- list(nodes = node_keys(mt))
fa <- fastAnc(mt, x, vars = TRUE, CI = TRUE)
m$fastAnc <- list(ace = unname(fa$ace), var = unname(fa$var), ci_lo = unname(fa$CI95[, 1]),
                  ci_hi = unname(fa$CI95[, 2]))
ac <- ace(x, mt, type = "continuous", method = "ML")
m$ace_ml <- list(ace = unname(ac$ace), sigma2 = ac$sigma2[1], loglik = ac$loglik)
m$K <- as.numeric(phylosig(mt, x, method = "K"))
lam <- phylosig(mt, x, method = "lambda", test = TRUE)
lamp <- optimize(lam$lik, c(0, 1), maximum = TRUE, tol = 1e-12)
m$lambda <- list(phylosig = list(lambda = lam$lambda, logL = lam$logL, logL0 = lam$logL0, P = lam$P),
                 lambda = lamp$maximum, logL = lamp$objective,
                 lik_at = list(lambda = c(0, 0.25, 0.5, 0.9, 1),
                               logL = sapply(c(0, 0.25, 0.5, 0.9, 1), lam$lik)))
kse <- phylosig(mt, x, method = "K", se = se)
m$K_se <- list(K = kse$K, sig2 = kse$sig2, logL = kse$logL,
               lik_at = list(sig2 = c(0.05, 0.1, 0.2), logL = sapply(c(0.05, 0.1, 0.2), kse$lik)))
lse <- phylosig(mt, x, method = "lambda", se = se)
m$lambda_se <- list(lambda = lse$lambda, sig2 = lse$sig2, logL = lse$logL,
                    lik_at = list(lambda = c(0.3, 0.8, 1), sig2 = c(0.1, 0.1, 0.2),
                                  logL = c(lse$lik(0.3, 0.1), lse$lik(0.8, 0.1), lse$lik(1, 0.2))))
df <- data.frame(x = x, y = y, sp = names(x))
g_bm <- gls(y ~ x, data = df, correlation = corBrownian(1, mt, form = ~sp), method = "ML")
g_lam <- gls(y ~ x, data = df, correlation = corPagel(0.5, mt, form = ~sp), method = "ML")
lam_hat <- as.numeric(coef(g_lam$modelStruct$corStruct, unconstrained = FALSE))
g_lamf <- gls(y ~ x, data = df, correlation = corPagel(lam_hat, mt, form = ~sp, fixed = TRUE), method = "ML")
g_lam07 <- gls(y ~ x, data = df, correlation = corPagel(0.7, mt, form = ~sp, fixed = TRUE), method = "ML")
g_bm_reml <- gls(y ~ x, data = df, correlation = corBrownian(1, mt, form = ~sp))
pg <- function(g) list(coef = unname(coef(g)), se = unname(sqrt(diag(vcov(g)))),
                       logLik = as.numeric(logLik(g)), sigma = g$sigma)
m$pgls <- list(bm = pg(g_bm), bm_reml = pg(g_bm_reml), lambda = c(pg(g_lam), lambda = lam_hat),
               lambda_fixed = c(pg(g_lamf), lambda = lam_hat), lambda07 = c(pg(g_lam07), lambda = 0.7))
# BM log-likelihood of x alone (intercept-only ML gls)
m$bm_logLik <- as.numeric(logLik(gls(x ~ 1, data = df, correlation = corBrownian(1, mt, form = ~sp), method = "ML")))
# imputation: hide three species; BLUP under BM with the GLS root, sigma2 = REML (mean squared PICs)
hide <- c(mt$tip.label[3], mt$tip.label[20], mt$tip.label[41])
C <- vcv(mt)[names(x), names(x)]
o <- setdiff(names(x), hide)
Coo <- C[o, o]; iC <- solve(Coo); one <- rep(1, length(o))
a <- sum(iC %*% x[o]) / sum(iC)
s2 <- mean(pic(x[o], drop.tip(mt, hide))^2)
imp <- lapply(hide, function(h) {
  c_mo <- C[h, o]
  w <- iC %*% c_mo
  mu <- a + sum(w * (x[o] - a))
  v <- C[h, h] - sum(c_mo * w) + (1 - sum(w))^2 / sum(iC)
  list(taxon = h, mean = mu, var = s2 * v)
})
# with measurement error, at a fixed sigma2 = 0.1: V = sigma2 C + diag(se^2)
s2f <- 0.1
V <- s2f * Coo + diag(se[o]^2); iV <- solve(V)
aV <- sum(iV %*% x[o]) / sum(iV)
imp_se <- lapply(hide, function(h) {
  c_mo <- s2f * C[h, o]
  w <- iV %*% c_mo
  mu <- aV + sum(w * (x[o] - aV))
  v <- s2f * C[h, h] - sum(c_mo * w) + (1 - sum(w))^2 / sum(iV)
  list(taxon = h, mean = mu, var = v)
})
m$impute <- list(hidden = hide, sigma2 = s2, root = a, predictions = imp, se_sigma2 = s2f, predictions_se = imp_se)
out$mammal <- m

# ---------------------------------------------------------------- anole (continuous) -------
data(anoletree); data(anole.data)
at <- roundtrip(as.phylo(anoletree), "anole.nwk")
eco <- getStates(anoletree, "tips")[at$tip.label]
write_table(data.frame(taxon = at$tip.label, SVL = sprintf("%.17g", anole.data[at$tip.label, "SVL"]),
                       TL = sprintf("%.17g", anole.data[at$tip.label, "TL"]), ecomorph = eco), "anole.tsv")
svl <- setNames(anole.data[at$tip.label, "SVL"], at$tip.label)
tl <- setNames(anole.data[at$tip.label, "TL"], at$tip.label)
a <- list(nodes = node_keys(at))
a$K <- as.numeric(phylosig(at, svl, method = "K"))
al <- phylosig(at, svl, method = "lambda")
alp <- optimize(al$lik, c(0, 1), maximum = TRUE, tol = 1e-12)
a$lambda <- list(lambda = alp$maximum, logL = alp$objective, phylosig = list(lambda = al$lambda, logL = al$logL),
                 logL0 = al$lik(0))
fa <- fastAnc(at, svl, vars = TRUE, CI = TRUE)
a$fastAnc <- list(ace = unname(fa$ace), var = unname(fa$var))
df <- data.frame(svl = svl, tl = tl, sp = names(svl))
a$pgls_bm <- pg(gls(tl ~ svl, data = df, correlation = corBrownian(1, at, form = ~sp), method = "ML"))
# discrete: ecomorph (6 states), Mk ER and SYM by ace (marginal posteriors at the fitted rates)
disc <- function(tree, st, model) {
  f <- ace(st, tree, type = "discrete", model = model)
  Q <- matrix(0, nrow(f$index.matrix), ncol(f$index.matrix))
  Q[!is.na(f$index.matrix)] <- f$rates[f$index.matrix[!is.na(f$index.matrix)]]
  diag(Q) <- -rowSums(Q)
  fq <- fitMk(tree, st, fixedQ = Q)
  list(states = colnames(f$lik.anc), loglik = f$loglik, rates = f$rates, Q = Q,
       lik_anc = unname(f$lik.anc), fitMk_logLik_at_Q = fq$logLik)
}
a$mk_er <- disc(at, eco, "ER")
a$mk_sym <- disc(at, eco, "SYM")
out$anole <- a

# ---------------------------------------------------------------- bonyfish (binary) --------
data(bonyfish.tree); data(bonyfish.data)
bt <- roundtrip(bonyfish.tree, "bonyfish.nwk")
sm <- setNames(as.character(bonyfish.data[bt$tip.label, "spawning_mode"]), bt$tip.label)
pc <- setNames(as.character(bonyfish.data[bt$tip.label, "paternal_care"]), bt$tip.label)
write_table(data.frame(taxon = bt$tip.label, spawning_mode = sm, paternal_care = pc), "bonyfish.tsv")
b <- list(nodes = node_keys(bt), er = disc(bt, sm, "ER"), ard = disc(bt, sm, "ARD"),
          care_ard = disc(bt, pc, "ARD"))
fm <- fitMk(bt, sm, model = "ARD")
b$fitMk_ard <- list(logLik = fm$logLik, rates = fm$rates)
out$bonyfish <- b

writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "expected.json")
