"""Online payment providers behind one interface (``base.Provider``): WeChat Pay v3, Alipay, and the built-in
sandbox that the demo and the tests pay with. ``provider_class('wechat')`` gives an adapter's class."""
from __future__ import annotations

import importlib

from .base import ChargeResult, Checkout, Field, Notice, Provider, ProviderError, Refused, Urls

__all__ = ['ChargeResult', 'Checkout', 'Field', 'Notice', 'Provider', 'ProviderError', 'Refused', 'Urls',
           'provider_class']

#: provider name -> module of this package that defines its adapter (imported when first used)
_MODULES = {'sandbox': 'sandbox', 'wechat': 'wechat', 'alipay': 'alipay'}


def provider_class(name: str) -> type[Provider]:
    if name not in _MODULES:
        raise KeyError(name)
    module = importlib.import_module(f'{__name__}.{_MODULES[name]}')
    return module.ADAPTER
