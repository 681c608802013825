"""The contract suite of `provider_servers.contract` over every installed provider.

`tests/conftest.py` loads the plugin; each provider enrols by its `prizm.providers` entry point and
brings its cases by its `prizm.contract` one. `--prizm-provider NAME` narrows the run.
"""

from provider_servers.contract.suite import *  # noqa: F403 - the suite's tests, collected here
