/* CSV files with a header row (RFC 4180 through libcsv) into datasets. */
#ifndef INFB_DATA_CSV_H
#define INFB_DATA_CSV_H

#include "data/dataset.h"

/* Read the CSV file at path.  The first record is the header (column names, which must be
 * unique and non-empty).  target names the target column (NULL: no target, every
 * selected column is a feature).  features is a NULL-terminated list of column names
 * (NULL: every column but the target), in the order they will appear in the dataset.
 * Every cell used must be a finite number (strict parsing: "1e", "nan", "" are errors).
 *
 * Returns a new dataset (source = path), or NULL with the error raised (INFB_EDATA) and a
 * message that names the file and the record:
 *   "PATH: cannot open: No such file or directory"
 *   "PATH: line 7: 3 fields, but the header has 4"
 *   "PATH: line 5, column 'bmi': 'abc' is not a number"
 *   "PATH: line 5, column 'bmi': empty cell"
 *   "PATH: no column named 'foo'" / "PATH: no data rows" / "PATH: empty file"
 *   "PATH: line 1: duplicate column name 'age'"
 * Line numbers count records (the header is line 1); they equal file lines for files
 * without quoted line breaks. */
infb_dataset *infb_csv_read(const char *path, const char *target, char *const *features);

#endif
