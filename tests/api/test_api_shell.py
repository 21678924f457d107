"""The HTTP shell around every router: schema, docs, unknown routes, wrong methods."""


def test_openapi_schema_lists_the_contract_endpoints(api_client):
    schema = api_client.get("/openapi.json").json()
    paths = schema["paths"]
    for path in ("/api/v1/auth/register", "/api/v1/auth/login", "/api/v1/friends",
                 "/api/v1/chat/conversations", "/api/v1/chat/conversations/{id}/messages"):
        assert any(p.replace("{conversationId}", "{id}") == path for p in paths), path


def test_interactive_docs_are_served(api_client):
    r = api_client.get("/docs")
    assert r.status_code == 200 and "swagger" in r.text.lower()


def test_unknown_api_path_is_an_enveloped_404(api_client):
    r = api_client.get("/api/v1/no-such-thing")
    assert r.status_code == 404
    assert r.json() == {"success": False, "error": "No such API endpoint.", "code": "not_found"}


def test_wrong_method_on_a_known_path_is_405(api_client):
    r = api_client.get("/api/v1/auth/register")
    assert r.status_code == 405
    assert r.json()["code"] == "method_not_allowed"
