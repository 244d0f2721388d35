"""The HTTP API: FastAPI app factory, dynamic batcher, settings. Imports `model`, never `training`.

Build the app with `serving.app.create_app(settings)`; run it with `notecheck serve --model DIR`.
"""
