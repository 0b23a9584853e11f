/* Figures of the ln p(x) ground truth (issue #12): AIS diagnostics per traced point, the
 * PSIS k̂ of each IWAE proposal, and the BDMC sandwich on simulated data.  The conventions
 * are those of plot/gnuplot.h: one self-contained DIR/<stem>.gp per figure, reading TSVs
 * of the same directory by relative path, loading infbench-style.gp, setting no terminal,
 * written atomically; names are quoted, never enhanced text.  `title` heads the figure
 * (an estimator's name, e.g. "vae").  The writers return GSL_SUCCESS, or raise and return
 * GSL_EINVAL (a NULL or empty argument, or no column to draw), GSL_ENOMEM, or GSL_EFAILED
 * (the file could not be written).  Call them only for TSVs that exist: gnuplot stops on a
 * missing data file. */
#ifndef INFB_PLOT_TRUTHFIGS_H
#define INFB_PLOT_TRUTHFIGS_H

#include <stddef.h>

/* AIS diagnostics, from
 *   ais-trace-<e>-<split>.tsv: point t beta log_px_running accept step
 * (rows grouped by point; t the temperature index, log_px_running the log-mean-exp of
 * the chains' ln w after temperature t, accept the fraction of moves accepted at t):
 * two panels, the running ln p̂(x) against β and the acceptance against t, one line per
 * traced point.  The script finds the point ids in the file (a point of a resumed run may
 * have no rows) and draws the first INFB_PLOT_AIS_TRACE_MAX of them, each in its colour,
 * the same in both panels.  Writes DIR/<stem>.gp. */
enum { INFB_PLOT_AIS_TRACE_MAX = 12 };
int infb_plot_ais_trace_write(const char *dir, const char *stem, const char *tsv,
                              const char *title);

/* PSIS k̂ of each IWAE proposal, from the per-point files
 *   gaps-<e>-<split>.tsv (tsv_test may be NULL)
 * whose header names the ncols columns `cols` in order (both files alike): every column
 * named <method>_khat (iwae_encoder_khat, iwae_qstar_khat; not *_khat_status) is a
 * proposal, in the order of the header; a proposal absent from the header is not drawn.
 * Left panel: a histogram of k̂ per proposal (fraction of each split's points with a
 * finite k̂, train filled, test outlined; 30 bins over the data's range and the
 * threshold), the threshold as a vertical line, each proposal's fraction above it in the
 * legend.  Right panel, when the header has amortization_gap: k̂ against the amortisation
 * gap, one point per point (train filled, test open), the threshold as a horizontal line;
 * a file without finite amortisation gaps (no encoder) leaves a note instead.  threshold:
 * the PSIS threshold min(1 − 1/log10 S, 0.7) for S samples; NaN draws none.  No _khat
 * column, or ncols = 0, is GSL_EINVAL.  Writes DIR/<stem>.gp. */
int infb_plot_khat_write(const char *dir, const char *stem, const char *tsv_train,
                         const char *tsv_test, const char *title, double threshold,
                         size_t ncols, const char *const *cols);

/* The BDMC sandwich on simulated data (Grosse et al. 2015), from
 *   bdmc-<e>.tsv: temperatures lower lower_se upper upper_se gap gap_se iwae iwae_se
 * (one row per number of temperatures, ascending; means over the simulated points, _se
 * their standard errors): left, the forward-AIS lower bound (the ln p̂(x) of the
 * temperatures) and the reverse-AIS upper bound against the number of temperatures (log
 * axis), ± 1 se, closing on each other, with the encoder's IWAE-k as a horizontal
 * reference (dashed, its se band shaded); right, the gap upper − lower ± 1 se on log–log
 * axes when every gap is positive (linear y otherwise) with a 1/T guide through the first
 * row.  This also is the figure of ln p̂(x) against the temperatures: there is no separate
 * one.  A single row is drawn over a decade around it.  Writes DIR/<stem>.gp. */
int infb_plot_bdmc_write(const char *dir, const char *stem, const char *tsv,
                         const char *title);

#endif
