"""The files crm2 ships: default rule files (config/) and mappings (mappings/).

`config` and `mappings` here are links to the project's top-level folders, which the layout keeps
where data teams edit them; building the wheel copies their files into this package, so an
installed crm2 finds its defaults through importlib.resources wherever it is installed.
"""
