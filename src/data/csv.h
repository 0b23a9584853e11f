/* CSV files with a header row (RFC 4180 through libcsv) into datasets. */
#ifndef INFB_DATA_CSV_H
#define INFB_DATA_CSV_H

#include <stdio.h>
#include "data/dataset.h"

/* Read the CSV file at path.  The first record is the header (column names, which must be
 * unique and non-empty).  target names the target column (NULL: no target, every
 * selected column is a feature).  features is a NULL-terminated list of column names
 * (NULL: every column but the target), in the order they will appear in the dataset.
 * Every cell used must be a finite number (strict parsing: "1e", "nan", "" are errors).
 *
 * Returns a new dataset (source = path, line = each row's record number as in the
 * messages below), or NULL with the error raised (INFB_EDATA) and a
 * message that names the file and the record:
 *   "PATH: cannot open: No such file or directory"
 *   "PATH: line 7: 3 fields, but the header has 4"
 *   "PATH: line 5, column 'bmi': 'abc' is not a number"
 *   "PATH: line 5, column 'bmi': empty cell"
 *   "PATH: no column named 'foo'" / "PATH: no data rows" / "PATH: empty file"
 *   "PATH: line 1: duplicate column name 'age'"
 * and, less commonly,
 *   "PATH: line 1: column 3 has an empty name"
 *   "PATH: line 6: 1 field, but the header has 4"     (singular for one field)
 *   "PATH: line 5, column 'bmi': '1e999' is out of range"  (infb_parse_double's reason)
 *   "PATH: column 'y' is both the target and a feature"
 *   "PATH: feature 'age' is listed twice" / "PATH: no feature columns"
 *   "PATH: line 3: malformed quoting" / "PATH: line 3: unterminated quoted field"
 * Line numbers count records (the header is line 1); they equal file lines for files
 * without quoted line breaks or blank lines.  Blank lines (including a trailing one) are
 * skipped, CRLF and LF line ends are both accepted, blanks around unquoted cells are
 * ignored, and a leading UTF-8 byte-order mark is dropped.  Unused columns are not
 * parsed. */
infb_dataset *infb_csv_read(const char *path, const char *target, char *const *features);

/* The same from the open stream f, read from its current position to its end (not
 * closed); path names it in messages and becomes the dataset's source.  f may be any
 * stream (a pipe, fmemopen's memory). */
infb_dataset *infb_csv_read_stream(FILE *f, const char *path, const char *target,
                                   char *const *features);

#endif
