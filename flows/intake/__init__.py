"""From the bureau's files to reports: the bureau, its submissions, file intake, reading workbooks, last year's figures."""
