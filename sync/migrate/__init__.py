"""`crm2 migrate`: retiring a CRM with proof that nothing was lost.

One module per subcommand — :mod:`plan`, :mod:`full_run`, :mod:`verify`, :mod:`cutover`,
:mod:`archive`, :mod:`erase` — over a shared Singer reader (:mod:`singer_reader`) that runs a
source's tap without state and reads its records in-process. See docs/migration.md.
"""
