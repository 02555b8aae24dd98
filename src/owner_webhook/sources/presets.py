"""Every sender this function knows out of the box, each one recipe (recipe.py reads them).

Written as Python data rather than JSON files so that a cold start unmarshals them from byte code; they
are the same objects a recipe file holds (docs/senders.md describes each field). The comment above
each says where its facts were checked.
"""

from __future__ import annotations

from typing import Any

# Typeform's, Tally's and Webflow's signatures, the Standard Webhooks and the token credentials.
_BEARER_OR_HEADER = {"token": ["bearer", "header:X-Webhook-Token"]}
_STANDARD_WEBHOOKS = {
    "signature": "header:webhook-signature",
    "separator": " ",
    "prefix": "v1,",
    "encoding": "base64",
    "key": "whsec",
    "signed": "{header:webhook-id}.{timestamp}.{body}",
    "timestamp": "header:webhook-timestamp",
    "secret_prefix": "whsec_",
}

PRESETS: dict[str, dict[str, Any]] = {
    # Typeform's webhook docs: base64 HMAC-SHA256 of the body after "sha256="; retries 503s for 10 h. A webhook
    # may also send form_response_partial (answers so far, not submitted): not a signup.
    "typeform": {
        "for": "Typeform",
        "credential": {"signature": "header:Typeform-Signature", "prefix": "sha256=", "encoding": "base64"},
        "phone": ["form_response.answers[type=phone_number].phone_number"],
        "delivery_id": ["form_response.token"],
        "events": {"place": "event_type", "accept": ["form_response"]},
        "retries": True,
    },
    # Tally's webhook docs: base64 HMAC-SHA256 of the body; retries after 5 min, 30 min, 1 h, 6 h, 24 h.
    "tally": {
        "for": "Tally",
        "credential": {"signature": "header:Tally-Signature", "encoding": "base64"},
        "phone": ["data.fields[type=INPUT_PHONE_NUMBER].value"],
        "delivery_id": ["eventId"],
        "retries": True,
    },
    # Webflow's webhook docs: hex HMAC-SHA256 of "{ms timestamp}:{body}"; deactivates after repeated failures.
    # Its webhooks carry a triggerType: form_submission is a signup, site_publish, ecomm_new_order... are not.
    "webflow": {
        "for": "Webflow forms",
        "credential": {
            "signature": "header:x-webflow-signature",
            "signed": "{timestamp}:{body}",
            "timestamp": "header:x-webflow-timestamp",
            "timestamp_unit": "ms",
        },
        "phone": ["payload.data.~"],
        "delivery_id": ["payload.id"],
        "events": {"place": "triggerType", "accept": ["form_submission"]},
        "retries": True,
    },
    # Jotform cannot sign: a token in the URL. Its answers are JSON inside the rawRequest field, which
    # sources/jotform.py reads; it is not known to retry.
    "jotform": {
        "for": "Jotform",
        "body": ["multipart", "form"],
        "credential": {"token": "query:token"},
        "phone": ["rawRequest.~"],
        "delivery_id": ["submissionID"],
        "retries": False,
    },
    # A Zap step, a Make scenario or a script: sends once and reads the answer.
    "zapier": {
        "for": "Webhooks by Zapier, Make, Apps Script",
        "body": ["json", "form"],
        "credential": _BEARER_OR_HEADER,
        "phone": ["~"],
        "delivery_id": ["header:Idempotency-Key"],
        "refusals": "reject",
        "retries": False,
    },
    # Your own backend: Standard Webhooks (standardwebhooks.com) for a whsec_ secret, else a Bearer token.
    "generic": {
        "for": "your backend, any other tool",
        "body": ["json", "form"],
        "credential": [_STANDARD_WEBHOOKS, {"token": "bearer"}],
        "phone": ["~", "data.~"],
        "delivery_id": ["header:webhook-id", "header:Idempotency-Key"],
        "refusals": "reject",
        "retries": True,
    },
    # Shopify customers/create. shopify-api-js lib/webhooks/validate.ts: base64 HMAC-SHA256 of the raw body
    # with the app's client secret; X-Shopify-Topic names the topic (orders/create carries a phone too).
    # Retries 8 times over 4 h, then deletes an API-made subscription.
    "shopify": {
        "for": "Shopify customers/create",
        "credential": {"signature": "header:X-Shopify-Hmac-Sha256", "encoding": "base64"},
        "phone": ["phone", "default_address.phone", "addresses[].phone"],
        "region": ["default_address.country_code", "addresses[].country_code"],
        "delivery_id": ["header:X-Shopify-Webhook-Id", "header:X-Shopify-Event-Id"],
        "events": {"place": "header:X-Shopify-Topic", "accept": ["customers/create"]},
        "retries": True,
    },
    # WooCommerce customer.created. class-wc-webhook.php: base64 HMAC-SHA256 of the body, keyed with the
    # secret's HTML entities decoded; X-WC-Webhook-Topic names the topic; an unsigned webhook_id=<n> ping on
    # creation must get 200. One attempt, never retried; disabled after more than 5 failures in a row.
    "woocommerce": {
        "for": "WooCommerce customer.created",
        "body": ["json", "form"],
        "credential": {"signature": "header:X-WC-Webhook-Signature", "encoding": "base64", "key": "html_entities"},
        "phone": ["billing.phone", "shipping.phone"],
        "region": ["billing.country", "shipping.country"],
        "delivery_id": ["header:X-WC-Webhook-Delivery-ID"],
        "events": {"place": "header:X-WC-Webhook-Topic", "accept": ["customer.created"]},
        "ping": "webhook_id={digits}",
        "retries": False,
    },
    # Stripe customer.created. stripe-python _webhook.py: hex HMAC-SHA256 of "{t}.{body}" keyed with the whsec_
    # string as it is (not decoded), any v1 of the header; `type` names the event. Retries for up to 3 days.
    "stripe": {
        "for": "Stripe customer.created",
        "credential": {
            "signature": "header:Stripe-Signature",
            "pairs": "v1",
            "signed": "{timestamp}.{body}",
            "timestamp": "pair:t",
        },
        "phone": ["data.object.phone", "data.object.shipping.phone"],
        "region": ["data.object.address.country", "data.object.shipping.address.country"],
        "delivery_id": ["id"],
        "events": {"place": "type", "accept": ["customer.created"]},
        "retries": True,
    },
    # Calendly invitee.created. developer.calendly.com webhook signatures: hex HMAC-SHA256 of "{t}.{body}".
    # `event` names the event (invitee.canceled, routing_form_submission...). Retries for 24 h, then disables
    # the subscription; a 410 deletes it at once.
    "calendly": {
        "for": "Calendly invitee.created",
        "credential": {
            "signature": "header:Calendly-Webhook-Signature",
            "pairs": "v1",
            "signed": "{timestamp}.{body}",
            "timestamp": "pair:t",
        },
        "phone": ["payload.text_reminder_number", "payload.questions_and_answers[question~].answer"],
        "delivery_id": ["payload.uri"],
        "events": {"place": "event", "accept": ["invitee.created"]},
        "retries": True,
    },
    # Formstack "Send data to an external URL" with an HMAC key: "sha256=" + hex HMAC-SHA256 of the body
    # (captured deliveries; Formstack's docs no longer name the algorithm). Retries: not documented.
    "formstack": {
        "for": "Formstack Forms",
        "body": ["form", "json"],
        "credential": {"signature": "header:X-FS-Signature", "prefix": "sha256="},
        "phone": ["~", "~.value"],
        "delivery_id": ["UniqueID"],
        "retries": False,
    },
    # Framer forms with a secret: "sha256=" + hex HMAC-SHA256 of the body followed by the submission id
    # (framer.com help, form webhook setup). Retries up to 5 times.
    "framer": {
        "for": "Framer forms",
        "credential": {
            "signature": "header:Framer-Signature",
            "prefix": "sha256=",
            "signed": "{body}{header:Framer-Webhook-Submission-Id}",
        },
        "phone": ["~"],
        "delivery_id": ["header:Framer-Webhook-Submission-Id"],
        "retries": True,
    },
    # HubSpot workflow "Send a webhook", signature v3. hubspot-api-python utils/signature.py: base64
    # HMAC-SHA256 of method + public URL + body + ms timestamp. Retries 5xx for up to 3 days.
    "hubspot": {
        "for": "HubSpot workflows",
        "credential": {
            "signature": "header:X-HubSpot-Signature-v3",
            "encoding": "base64",
            "signed": "{method}{url}{body}{timestamp}",
            "timestamp": "header:X-HubSpot-Request-Timestamp",
            "timestamp_unit": "ms",
        },
        "phone": ["properties.phone.value", "properties.mobilephone.value", "~"],
        "region": ["properties.hs_country_region_code.value"],
        "delivery_id": ["properties.hs_object_id.value", "vid"],
        "retries": True,
    },
    # Fillout form webhooks (fillout.com help; the example Pipedream ships): unsigned, so a token in a header
    # (advanced mode) or the URL's query.
    "fillout": {
        "for": "Fillout",
        "credential": {"token": ["header:X-Webhook-Token", "bearer", "query:token"]},
        "phone": ["submission.questions[type=PhoneNumber].value", "submission.questions[name~].value", "~"],
        "delivery_id": ["submission.submissionId"],
        "retries": False,
    },
    # Heyflow webhooks (heyflow.help, Webhook API): unsigned; a token in a header, Basic auth, or the URL's
    # query. `fields` by system label, or (extended payload) a list of {label, variable, values}.
    "heyflow": {
        "for": "Heyflow",
        "credential": {"token": ["header:X-Webhook-Token", "bearer", "basic", "query:token"]},
        "phone": ["fields.~", "fields[variable~].values[].label", "fields[label~].values[].label"],
        "delivery_id": ["id"],
        "retries": False,
    },
    # Zoho Forms webhooks (zoho.com/forms help): unsigned; a token in a custom header or the URL's query;
    # the chosen fields under the parameter names the user gives them.
    "zoho": {
        "for": "Zoho Forms",
        "body": ["json", "form"],
        "credential": {"token": ["header:X-Webhook-Token", "query:token"]},
        "phone": ["~"],
        "retries": False,
    },
    # Gravity Forms Webhooks add-on (docs.gravityforms.com): unsigned; a token in a request header; the entry
    # keyed by field id (all fields) or by the keys the user chooses (select fields: name one "phone").
    "gravityforms": {
        "for": "Gravity Forms",
        "body": ["json", "form"],
        "credential": {"token": ["header:X-Webhook-Token", "bearer"]},
        "phone": ["~"],
        "delivery_id": ["id"],
        "retries": False,
    },
    # Paperform cannot add headers (its help: "include it in the webhook URL's query string"); the answers
    # are data[] items with their question type.
    "paperform": {
        "for": "Paperform",
        "credential": {"token": "query:token"},
        "phone": ["data[type=phone].value"],
        "delivery_id": ["submission_id"],
        "retries": False,
    },
    # Elementor Pro forms, action "Webhook" (modules/forms/actions/webhook.php): no headers, so a token in
    # the URL's query; the fields by label, as a form; one attempt, which must get exactly 200.
    "elementor": {
        "for": "Elementor Pro forms",
        "body": ["form"],
        "credential": {"token": "query:token"},
        "phone": ["~"],
        "retries": False,
    },
    # Wufoo: no signature; the webhook's Handshake Key comes back as the HandshakeKey field of the body
    # (wufoo/docs webhooks). Answers are FieldN; FieldStructure (with metadata on) says which is a phone.
    "wufoo": {
        "for": "Wufoo",
        "body": ["form"],
        "credential": {"token": "body:HandshakeKey"},
        "phone": ["~"],
        "delivery_id": ["EntryId"],
        "retries": False,
    },
    # Formbricks survey webhooks: Standard Webhooks with the secret Formbricks shows once (processor.ts,
    # lib/crypto.ts); `event` is responseCreated, responseUpdated or responseFinished (its pipeline), and only
    # a finished response is a signup. One attempt, no retries.
    "formbricks": {
        "for": "Formbricks",
        "credential": _STANDARD_WEBHOOKS,
        "phone": ["data.data.~", "data.contactAttributes.~"],
        "delivery_id": ["data.id"],
        "events": {"place": "event", "accept": ["responseFinished"]},
        "retries": False,
    },
}
