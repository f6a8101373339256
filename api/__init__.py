"""traitkg's HTTP face: the SPARQL 1.1 Protocol at ``/sparql``, REST under ``/api/v1`` and a web
page at ``/``. Build the app with :func:`api.app.create_app`; run it with ``traitkg serve`` or
``uvicorn --factory api.app:create_app``.

Importing this package is cheap (no FastAPI, no store): query worker processes import it.
"""
