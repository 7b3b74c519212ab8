"""One router per resource; `serving.api.app.create_app` includes them all."""
