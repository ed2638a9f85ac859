#!/usr/bin/python3
# lo_sign.py: drives a running LibreOffice (soffice --headless --accept=pipe,...) over
# UNO to sign an ODF document with the card's signature certificate through NSS, and
# reports what LibreOffice did as JSON (see sign_test.go).
#
# LibreOffice asks NSS's token password through the UNO service
# com.sun.star.task.InteractionHandler (xmlsecurity's GetPasswordFunction, installed
# with PK11_SetPasswordFunc); headless, the stock handler cannot ask anybody. This
# script replaces that service in soffice's service manager with its own handler,
# which answers the password request for the token named by --token once, with the
# password read from stdin, and declines every other request (a re-entry request,
# another token, anything else): a wrong password is never tried twice.
#
# Usage: lo_sign.py --pipe NAME --doc FILE.odt --cert sign.der --token LABEL --out R.json
# (password on stdin; never printed).
import argparse
import json
import os
import sys
import threading
import time
import traceback

import uno
import unohelper
from com.sun.star.connection import NoConnectException
from com.sun.star.lang import XEventListener, XInitialization, XServiceInfo, XSingleComponentFactory
from com.sun.star.task import XInteractionHandler2

UUI_HANDLER = "com.sun.star.comp.uui.UUIInteractionHandler"
OUR_HANDLER = "org.jpkipkcs11.test.PasswordInteractionHandler"
HANDLER_SERVICES = ("com.sun.star.task.InteractionHandler",)


# pyuno 7.4 under Python 3.11 turns a UNO exception value (the password request
# is one: task.DocumentPasswordRequest2) into a Python object and then sets its
# "args" through the struct's __setattr__, which fails and leaves a Python error
# set: every call returning such a value raises SystemError. The classes pyuno
# makes take their __setattr__ from this module when they are created, so
# "args" of an exception is set on the Python exception itself.
_struct_setattr = uno._uno_struct__setattr__


def _setattr(self, name, value):
    if name == "args" and isinstance(self, BaseException):
        return BaseException.__setattr__(self, name, value)
    return _struct_setattr(self, name, value)


uno._uno_struct__setattr__ = _setattr


def prop(name, value):
    p = uno.createUnoStruct("com.sun.star.beans.PropertyValue")
    p.Name, p.Value = name, value
    return p


class HandlerInfo(XServiceInfo):
    """XServiceInfo of the handler and of its factory: the service xmlsecurity asks for."""

    def getImplementationName(self):
        return OUR_HANDLER

    def supportsService(self, name):
        return name in HANDLER_SERVICES

    def getSupportedServiceNames(self):
        return HANDLER_SERVICES


class Handler(unohelper.Base, XInteractionHandler2, XInitialization, HandlerInfo):
    """Answers one password request for one token; records every request."""

    def __init__(self, state):
        self.state = state

    def initialize(self, args):
        pass

    def handle(self, request):
        self.handleInteractionRequest(request)

    def handleInteractionRequest(self, request):
        req = request.getRequest()
        name = getattr(req, "Name", None)
        mode = getattr(req, "Mode", None)
        mode = mode.value if mode is not None else None
        kind = req.typeName if hasattr(req, "typeName") else type(req).__name__
        entry = {"type": kind, "name": name, "mode": mode, "answered": False}
        self.state["requests"].append(entry)
        conts = request.getContinuations()
        pw_type = uno.getTypeByName("com.sun.star.task.XInteractionPassword")
        abort_type = uno.getTypeByName("com.sun.star.task.XInteractionAbort")
        if (name == self.state["token"] and mode == "PASSWORD_ENTER"
                and not self.state["given"]):
            for c in conts:
                if c.queryInterface(pw_type) is not None:
                    self.state["given"] = True
                    c.setPassword(self.state["password"])
                    c.select()
                    entry["answered"] = True
                    return True
        for c in conts:
            if c.queryInterface(abort_type) is not None:
                c.select()
                return True
        return False


class HandlerFactory(unohelper.Base, XSingleComponentFactory, HandlerInfo):
    def __init__(self, state):
        self.state = state

    def createInstanceWithContext(self, ctx):
        return Handler(self.state)

    def createInstanceWithArgumentsAndContext(self, args, ctx):
        return Handler(self.state)


class Closed(unohelper.Base, XEventListener):
    """Set when the bridge to soffice goes away (soffice has ended)."""

    def __init__(self):
        self.event = threading.Event()

    def disposing(self, source):
        self.event.set()


def connect(pipe, deadline, closed):
    """The component context of the soffice listening on pipe; closed is told when
    the connection ends."""
    local = uno.getComponentContext()
    connector = local.ServiceManager.createInstanceWithContext(
        "com.sun.star.connection.Connector", local)
    while True:
        try:
            conn = connector.connect("pipe,name=" + pipe)
            break
        except NoConnectException:
            if time.time() > deadline:
                raise
            time.sleep(0.2)
    factory = local.ServiceManager.createInstanceWithContext(
        "com.sun.star.bridge.BridgeFactory", local)
    bridge = factory.createBridge("", "urp", conn, None)
    bridge.addEventListener(closed)
    return bridge.getInstance("StarOffice.ComponentContext")


def open_storage(factory, url, mode):
    """The zip storage of the file url, as sfx2 opens a document to sign it
    (SfxMedium::GetZipStorageToSign_Impl): in a package storage, the default,
    META-INF (where documentsignatures.xml goes) is hidden."""
    desc = uno.Any("[]com.sun.star.beans.PropertyValue", (prop("StorageFormat", "ZipFormat"),))
    return uno.invoke(factory, "createInstanceWithArguments", ((url, mode, desc),))


def cert_info(c):
    return {"subject": c.SubjectName, "issuer": c.IssuerName,
            "der": bytes(c.Encoded.value).hex()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pipe", required=True)
    ap.add_argument("--doc", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--odf-version", default="1.3")
    a = ap.parse_args()
    password = sys.stdin.readline().rstrip("\r\n")
    want = open(a.cert, "rb").read()
    state = {"token": a.token, "password": password, "given": False, "requests": []}
    result = {"requests": state["requests"]}

    closed = Closed()
    ctx = connect(a.pipe, time.time() + 40, closed)
    smgr = ctx.ServiceManager
    desktop = smgr.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
    try:
        # our handler instead of uui's for the service name xmlsecurity asks for
        smgr.remove(UUI_HANDLER)
        smgr.insert(HandlerFactory(state))
        result["handler"] = smgr.createInstanceWithContext(
            HANDLER_SERVICES[0], ctx).getImplementationName()

        # 1. a small Writer document, stored as ODT by LibreOffice
        url = uno.systemPathToFileUrl(a.doc)
        doc = desktop.loadComponentFromURL("private:factory/swriter", "_blank", 0,
                                           (prop("Hidden", True),))
        doc.getText().setString("A document signed with a My Number Card through NSS.")
        doc.storeToURL(url, (prop("FilterName", "writer8"),))
        doc.close(True)

        # 2. the certificates NSS shows LibreOffice (this logs in to the tokens that
        #    need it, through the password callback)
        seinit = smgr.createInstanceWithContext("com.sun.star.xml.crypto.SEInitializer", ctx)
        secctx = seinit.createSecurityContext("")
        env = secctx.getSecurityEnvironment()
        certs = env.getPersonalCertificates()
        result["personal"] = [cert_info(c) for c in certs]
        signer = None
        for c in certs:
            if bytes(c.Encoded.value) == want:
                signer = c
        if signer is None:
            raise RuntimeError("the signature certificate is not among LibreOffice's personal certificates")

        # 3. sign the document's storage with it
        dds = smgr.createInstanceWithArgumentsAndContext(
            "com.sun.star.security.DocumentDigitalSignatures", (a.odf_version,), ctx)
        sf = smgr.createInstanceWithContext("com.sun.star.embed.StorageFactory", ctx)
        READWRITE = 7  # ElementModes.READWRITE: READ, SEEKABLE, WRITE
        stor = open_storage(sf, url, READWRITE)
        result["signed"] = bool(dds.signDocumentWithCertificate(signer, stor, None))
        stor.commit()  # LibreOffice 7.4 leaves committing the root storage to the caller
        stor.dispose()

        # 4. LibreOffice's own verdict on the stored file
        stor = open_storage(sf, url, 1)  # ElementModes.READ
        infos = dds.verifyDocumentContentSignatures(stor, None)
        result["signatures"] = [{
            "valid": bool(i.SignatureIsValid),
            "certificateStatus": i.CertificateStatus,
            "partialSignature": bool(i.PartialDocumentSignature),
            "signer": cert_info(i.Signer) if i.Signer is not None else None,
        } for i in infos]
        stor.dispose()
    except Exception:
        result["error"] = traceback.format_exc()
    finally:
        # our handler stays registered (removing uui's for good breaks soffice's
        # shutdown, and putting its factory back crashes it): this process serves
        # it until soffice has ended
        try:
            result["terminated"] = bool(desktop.terminate())
        except Exception:
            result["terminated"] = True  # soffice went away before it answered
        result["sofficeEnded"] = closed.event.wait(30)
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)
    return 1 if "error" in result else 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # not sys.exit: pyuno aborts at interpreter teardown while its bridge
    # threads still exist ("exception not rethrown")
    os._exit(code)
