from traitortrack.formats import *  # noqa: F403  (one set of formats for both languages)
