"""crm2's Singer programs and the external systems they talk to."""

from connectors import lazy_joblib

lazy_joblib.install()  # before any connector imports singer-sdk, which would import joblib and numpy
