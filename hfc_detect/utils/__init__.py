"""Small helpers shared by both packages (the only part of hfc_detect that hfc_classify uses,
with hfc_detect.frequency): errors, file output, the command-line frame, torch devices and modes."""
