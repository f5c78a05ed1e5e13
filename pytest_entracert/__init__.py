"""pytest plugin handing certificate-authenticated Entra ID tokens to integration tests."""
