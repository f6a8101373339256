# PGLS on a non-ultrametric tree in both of traitkg's modes, computed by nlme::gls (run once with R,
# Debian r-base-core, r-cran-ape, r-cran-nlme, from this directory: Rscript make_expected_nonultrametric.R).
# Writes mammal_nonultrametric.nwk (the mammal tree with its tip branches stretched by U(0.3, 1.7),
# seeded) and expected_nonultrametric.json. CI does not need R.
#   correlation mode: gls(correlation = corBrownian / corPagel), i.e. nlme's tip-correlation matrix;
#   covariance mode:  the same with weights = varFixed(~h), h = the tip's root-to-tip height, so that
#                     Var = sigma^2 h and V = sigma^2 C, the tree's covariance.
suppressMessages({library(ape); library(nlme); library(jsonlite)})
set.seed(29)
mt <- read.tree("mammal.nwk")
tip_edges <- which(mt$edge[, 2] <= Ntip(mt))
mt$edge.length[tip_edges] <- mt$edge.length[tip_edges] * runif(length(tip_edges), 0.3, 1.7)
write.tree(mt, file = "mammal_nonultrametric.nwk", digits = 17)
mt <- read.tree("mammal_nonultrametric.nwk")
stopifnot(!is.ultrametric(mt))
tab <- read.delim("mammal.tsv", colClasses = c("character", "numeric", "numeric", "numeric"))
df <- data.frame(x = tab$x, y = tab$y, sp = tab$taxon)
df$h <- diag(vcv(mt))[df$sp]
fit <- function(cor, vcv, method) {
  if (vcv == "covariance") gls(y ~ x, data = df, correlation = cor, weights = varFixed(~h), method = method)
  else gls(y ~ x, data = df, correlation = cor, method = method)
}
pg <- function(g) list(coef = unname(coef(g)), se = unname(sqrt(diag(vcov(g)))),
                       logLik = as.numeric(logLik(g)), sigma = g$sigma)
out <- list(versions = list(R = R.version.string, ape = as.character(packageVersion("ape")),
                            nlme = as.character(packageVersion("nlme"))))
for (vcv in c("covariance", "correlation")) {
  g_free <- fit(corPagel(0.5, mt, form = ~sp), vcv, "ML")
  lam_hat <- as.numeric(coef(g_free$modelStruct$corStruct, unconstrained = FALSE))
  out[[vcv]] <- list(
    bm = pg(fit(corBrownian(1, mt, form = ~sp), vcv, "ML")),
    bm_reml = pg(fit(corBrownian(1, mt, form = ~sp), vcv, "REML")),
    lambda07 = c(pg(fit(corPagel(0.7, mt, form = ~sp, fixed = TRUE), vcv, "ML")), lambda = 0.7),
    lambda04_reml = c(pg(fit(corPagel(0.4, mt, form = ~sp, fixed = TRUE), vcv, "REML")), lambda = 0.4),
    lambda = c(pg(g_free), lambda = lam_hat))
}
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "expected_nonultrametric.json")
