"""owner-webhook: turns signup webhooks into card-owner registrations at the payment gateway."""
