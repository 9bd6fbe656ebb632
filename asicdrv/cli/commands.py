"""The subcommands and their one-line help, each in ``asicdrv/cli/<name>.py``: the table
lets ``asicdrv`` load only the module of the command it runs."""

HELP = {
    "run": "mine from stratum pools on every chain",
    "scan": "find AUC bridges, serial modules and what is behind them",
    "status": "show module and miner status",
    "set": "set fan (%%), frequency (MHz) or voltage level",
    "selftest": "bench self-test with a verdict",
    "burnin": "factory core test with per-chip findings",
    "history": "a board's past self-tests and burn-ins",
    "monitor": "live view until Ctrl-C",
    "mine": "dispatch one job and list verified shares",
    "decode": "decode captured MM frames / AUC packets",
    "emulate": "serve an emulated module on a pty",
}
