"""The web pages of the central server, rendered on the server: the family
pages under /family and the Facility System for staff under /staff, with
their own CSS and the vendored htmx under /static (central.web.app mounts
them on the API's application). See docs/web.md."""
