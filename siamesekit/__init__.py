"""siamesekit: Siamese neural networks for image comparison, the Keras 3 way.

The public API lives in `siamesekit/_api.py`.
"""

from siamesekit._launch import launched_as_cli as _launched_as_cli

if _launched_as_cli():
    # The `siamesekit` command answers --help and usage errors before Keras
    # and TensorFlow load (seconds), and imports the API itself before it
    # runs a command.
    def __getattr__(name: str):
        # Private names (and the import system's own look-ups, such as
        # `siamesekit._api` while it is being imported) are not the API.
        if not name.startswith("_") or name in ("__all__", "__version__"):
            import importlib

            api = importlib.import_module("siamesekit._api")
            if name == "__all__" or name in api.__all__:
                return getattr(api, name)
        raise AttributeError(f"module 'siamesekit' has no attribute {name!r}")

else:
    # Imported as a library: the whole API at once, so that
    # `keras.models.load_model` finds every siamesekit class after a bare
    # `import siamesekit`.
    from siamesekit._api import *  # noqa: F403
    from siamesekit._api import __all__  # noqa: F401
