"""QR labels for the equipment ledger (设备二维码标签): an A4 sheet of labels, ten to a page, each with the project's
name, the device's code, name and place, and a QR code of the device page on the project's host (scanned with a
phone, it opens the device's details, certificates and inspections).

Rendered synchronously in the request (a small project's ledger has a few hundred devices; devices.MAX_LABELS caps a
request) by the shared WeasyPrint renderer; the QR codes are inline SVG data URIs, so nothing is fetched.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import render_template, url_for

from ..documents.pdf import PdfRenderer, qr_data_uri
from ..tenancy.models import Tenant
from ..tenancy.urls import tenant_url
from .devices import place
from .models import Device


@dataclass(frozen=True)
class Label:
    code: str
    name: str
    place: str
    url: str
    qr: str


def labels(devices: list[Device], tenant: Tenant) -> list[Label]:
    """What each label shows (in a request: the URL is on the host the request came in on)."""
    result = []
    for device in devices:
        url = tenant_url(url_for('inspections.device', device_id=device.id), tenant)
        result.append(Label(code=device.code, name=device.name, place=place(device), url=url, qr=qr_data_uri(url)))
    return result


def labels_html(devices: list[Device], tenant: Tenant) -> str:
    return render_template('inspections/device_labels_pdf.html', labels=labels(devices, tenant),
                           tenant_name=tenant.name)


def labels_pdf(devices: list[Device], tenant: Tenant) -> bytes:
    """The label sheet of ``devices`` as PDF bytes (RenderError when too slow or too long)."""
    return PdfRenderer().write(labels_html(devices, tenant))
