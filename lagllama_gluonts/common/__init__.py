"""The model-agnostic layer both ``lagllama_gluonts`` and ``informer_gluonts`` stand on.

Nothing here imports model code (a test walks the imports): offline repository datasets
(``datasets``), the table reader (``tables``), input validation (``validation``), the
estimator base with its training loop (``estimator``), the scalers (``scaling``), the
backtest, hold-out rule and report (``evaluation``, ``plots``), the command-line builders
(``cli``), and lazy package exports (``lazy``).
"""
