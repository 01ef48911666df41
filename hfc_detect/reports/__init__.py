"""Reports on a comparison folder: wins of a variant over the baseline, exports, HTML report."""
