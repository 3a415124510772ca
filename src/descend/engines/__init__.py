"""Engines: runners of the model contract where the rows are not one in-memory array.

:mod:`descend.engines.dask` runs the linear models on a Dask cluster. An engine plugs in under
the one loop (:func:`descend.minimize`) through the objective's ``engine`` attribute; it changes
where the chunks live, never the math.
"""
