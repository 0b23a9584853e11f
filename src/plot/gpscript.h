/* The pieces of a figure script that every plot file shares (internal to src/plot): the
 * opening comment and data conventions, quoting of names and data file names, numbers for
 * legends, a log x axis, marks and key entries.  They are defined in gnuplot.c, beside the
 * first figures that used them; the conventions are those of plot/gnuplot.h. */
#ifndef INFB_PLOT_GPSCRIPT_H
#define INFB_PLOT_GPSCRIPT_H

#include <stddef.h>
#include <stdio.h>

#include "core/atomicfile.h"

/* Line styles of the shared style (plots/infbench.gp): colours 1 .. INFB_GP_NCOLOURS,
 * then the grey reference styles. */
enum {
  INFB_GP_NCOLOURS = 8,
  INFB_GP_LS_REFERENCE = 9, /* horizontal reference level, dashed grey */
  INFB_GP_LS_MARK_A = 10,   /* a marked value, dash-dot */
  INFB_GP_LS_MARK_B = 11    /* another marked value, dotted */
};

/* GSL_SUCCESS, or GSL_EINVAL raised ("plot: WHAT is missing") for a NULL or empty s. */
int infb_gp_check_name(const char *what, const char *s);
/* DIR/STEM SUFFIX opened for an atomic write; NULL with the error raised. */
infb_afile *infb_gp_open(const char *dir, const char *stem, const char *suffix);
/* The opening comment (STEM SUFFIX.gp: WHAT; data: DATA; how to render), `load` of the
 * shared style and the data-file conventions (tabs, '#' comments, NaN missing). */
void infb_gp_preamble(FILE *fp, const char *stem, const char *suffix, const char *what,
                      const char *data);
/* Text inside a single-quoted gnuplot string (quotes doubled, control characters '?'). */
void infb_gp_qchars(FILE *fp, const char *s);
/* A single-quoted gnuplot string. */
void infb_gp_qstr(FILE *fp, const char *s);
/* A data file name, quoted; one starting with < | - + is read as ./NAME. */
void infb_gp_datafile(FILE *fp, const char *name);
/* A number for a legend (digits significant, typographic minus, ×10ⁿ); returns buf. */
const char *infb_gp_fmt_num(char *buf, size_t cap, int digits, double x);
/* A log-10 x axis labelled in powers of ten. */
void infb_gp_logx(FILE *fp);
/* The legend outside, below the graph. */
void infb_gp_key_below(FILE *fp);
/* The separator between the items of a plot command. */
void infb_gp_plot_sep(FILE *fp);

#endif
