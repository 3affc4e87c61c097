"""The model-agnostic layer both ``lagllama_gluonts`` and ``informer_gluonts`` stand on.

Nothing here imports model code, and no module imports one that imports it back, not even
inside a function (``tests/common/test_imports.py`` walks the imports). The layers, each
importing only those below it:

1. leaves: ``errors`` (:class:`DataError`, with the parameter at fault as ``field``),
   ``constants`` (quantile levels, float32 bounds, metric names), ``lazy``, ``scaling``,
   ``atomic`` (every file written whole or not at all), ``jsonio`` and ``plots`` (over ``atomic``);
2. ``frequency`` (pandas aliases and GluonTS periods), then ``validation`` (entry checks),
   ``covariates`` (both models' covariate checks) and ``predictor`` (sizes checked at ``predict``);
3. the one reading path, file -> frame -> dataset: ``files`` (a table file read or written),
   ``dataframes`` (a long frame as GluonTS entries, and forecasts back as a frame), ``tables``
   (a file of one or many series, through ``dataframes``); ``datasets`` (repository
   datasets: GluonTS's cache, filled from a mirror or GluonTS's download) and ``distributed`` beside them;
4. ``estimator`` (the shared training loop), ``backtesting`` (evaluation that computes),
   ``reporting`` (the files a command writes; it prints nothing), ``evaluation`` (both in one import, as before);
   ``incontext`` (covariates by in-context regression around any predictor, over ``errors`` alone);
   ``covariate_effect`` (how far covariates moved a forecast: the same forecast with them zeroed or
   left out, on the same random draws; imports nothing of the package);
5. the command-line layer on top (``cli`` and the shared commands).
"""
