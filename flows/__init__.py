"""nianbao: the annual government-information-disclosure statistics, from department workbooks to
checked, published open data. The stages, in the order a report travels: format, intake, checks,
merge, release, documents; run.py runs a year through them, flow.py as a Prefect flow, cli.py the
`nianbao` command."""
