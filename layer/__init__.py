"""The Lambda layer: Pillow and Powertools for the function's architecture, built without Docker.

``python -m layer.build`` writes ``layer/build/layer-<arch>-py3.12.zip`` (reproducible: same
inputs, byte-identical zip); ``python -m layer.build --host --target DIR`` installs the same
pinned requirements for this machine's Python, for running the handler locally.
"""
