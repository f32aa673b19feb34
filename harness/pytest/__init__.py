"""govdrill's pytest plugin: drill files as test items, and the ``drill_runner`` fixture.

``plugin`` holds the hooks pytest calls (registered through the ``pytest11`` entry point);
``collect`` the file collector and the drill item; ``outcome`` how a run's result becomes a
pass, an expected failure or a short failure report; ``runner`` what runs a drill under
pytest and the fixture's object; ``settings`` the ``--drill-*`` options, resolved once.
Nothing here imports the engine, the spec models or the metrics until a hook needs them.
"""
