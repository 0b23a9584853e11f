#!/usr/bin/python3
"""Convert the two small data sets shipped by Debian's python3-sklearn into the CSV files
committed beside this script (diabetes.csv, breast-cancer.csv).

This is provenance documentation: the build never runs it.  It uses the standard library
only, reads the files as the package installs them, and writes the data values as they
appear there (numbers are copied as text, never re-rounded).

    /usr/bin/python3 experiments/data/convert-sklearn.py [SKLEARN_DATA_DIR [OUT_DIR]]

SKLEARN_DATA_DIR defaults to /usr/lib/python3/dist-packages/sklearn/datasets/data and
OUT_DIR to this script's directory.  See README.md for the provenance and licences.
"""

import csv
import gzip
import os
import sys

DATA_DIR = "/usr/lib/python3/dist-packages/sklearn/datasets/data"

DIABETES_FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
DIABETES_TARGET = "progression"
DIABETES_ROWS = 442

# sklearn.datasets.load_breast_cancer's feature_names (sklearn/datasets/_base.py), in
# file order ("mean radius", ..., "radius error", ..., "worst radius", ...), lower case
# with spaces replaced by underscores.
MEASURES = ["radius", "texture", "perimeter", "area", "smoothness", "compactness",
            "concavity", "concave_points", "symmetry", "fractal_dimension"]
BREAST_CANCER_FEATURES = ([f"mean_{m}" for m in MEASURES]
                          + [f"{m}_error" for m in MEASURES]
                          + [f"worst_{m}" for m in MEASURES])
BREAST_CANCER_TARGET = "malignant"
BREAST_CANCER_ROWS = 569
BREAST_CANCER_MALIGNANT = 212


def fail(msg):
    sys.exit(f"convert-sklearn.py: {msg}")


def integral_text(token):
    """'1.510000000000000000e+02' -> '151'; the diabetes targets are whole numbers."""
    value = float(token)
    if value != int(value):
        fail(f"diabetes target {token!r} is not a whole number")
    return str(int(value))


def convert_diabetes(src_dir, out_path):
    with gzip.open(os.path.join(src_dir, "diabetes_data_raw.csv.gz"), "rt") as f:
        rows = [line.split() for line in f if line.strip()]
    with gzip.open(os.path.join(src_dir, "diabetes_target.csv.gz"), "rt") as f:
        targets = [line.strip() for line in f if line.strip()]
    if len(rows) != DIABETES_ROWS or len(targets) != DIABETES_ROWS:
        fail(f"diabetes: {len(rows)} rows and {len(targets)} targets, expected "
             f"{DIABETES_ROWS}")
    for i, row in enumerate(rows):
        if len(row) != len(DIABETES_FEATURES):
            fail(f"diabetes row {i + 1}: {len(row)} fields")
        for token in row:
            float(token)  # every value must be numeric
    with open(out_path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(DIABETES_FEATURES + [DIABETES_TARGET])
        for row, target in zip(rows, targets):
            w.writerow(row + [integral_text(target)])


def convert_breast_cancer(src_dir, out_path):
    with open(os.path.join(src_dir, "breast_cancer.csv"), newline="") as f:
        records = list(csv.reader(f))
    # The first record is not a header of column names but sklearn's summary:
    # "569,30,malignant,benign" = rows, features, then the class names by code:
    # target 0 = malignant, 1 = benign.
    head = records[0]
    if head != [str(BREAST_CANCER_ROWS), "30", "malignant", "benign"]:
        fail(f"breast_cancer.csv: unexpected first record {head}")
    data = records[1:]
    if len(data) != BREAST_CANCER_ROWS:
        fail(f"breast_cancer.csv: {len(data)} rows, expected {BREAST_CANCER_ROWS}")
    out = []
    for i, rec in enumerate(data):
        if len(rec) != len(BREAST_CANCER_FEATURES) + 1:
            fail(f"breast_cancer.csv row {i + 2}: {len(rec)} fields")
        for token in rec[:-1]:
            float(token)
        code = rec[-1]
        if code not in ("0", "1"):
            fail(f"breast_cancer.csv row {i + 2}: class {code!r}")
        # Invert sklearn's code so that the positive class is the disease:
        # malignant = 1 when sklearn's target is 0 (malignant), 0 when it is 1 (benign).
        out.append(rec[:-1] + ["1" if code == "0" else "0"])
    malignant = sum(r[-1] == "1" for r in out)
    if malignant != BREAST_CANCER_MALIGNANT:
        fail(f"breast_cancer.csv: {malignant} malignant, expected {BREAST_CANCER_MALIGNANT}")
    with open(out_path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(BREAST_CANCER_FEATURES + [BREAST_CANCER_TARGET])
        w.writerows(out)


def main():
    src_dir = sys.argv[1] if len(sys.argv) > 1 else DATA_DIR
    out_dir = sys.argv[2] if len(sys.argv) > 2 else os.path.dirname(os.path.abspath(__file__))
    assert len(BREAST_CANCER_FEATURES) == 30
    convert_diabetes(src_dir, os.path.join(out_dir, "diabetes.csv"))
    convert_breast_cancer(src_dir, os.path.join(out_dir, "breast-cancer.csv"))


if __name__ == "__main__":
    main()
