"""The provider contract suite: what a provider package declares for it, and how to run it.

A provider package declares its cases with a function returning `Case`s, named by an entry point of
the group `prizm.contract` under its provider's name (the one in `prizm.providers`). The suite runs
as a pytest plugin against every provider installed, or those chosen:

    pytest -p provider_servers.contract.plugin --pyargs provider_servers.contract.suite \\
        --prizm-provider NAME
"""

from provider_servers.contract.case import Case, png_asset, text_input

__all__ = ["Case", "png_asset", "text_input"]
