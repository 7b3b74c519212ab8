"""One router per resource; `serving.app.create_app` includes them all."""
