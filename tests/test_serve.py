import base64
import io
import json
import re

import httpx
import pytest
from conftest import running_server
from fastapi.testclient import TestClient
from PIL import Image

from captcha_break.serve import ServeConfig, create_app


@pytest.fixture(scope="module")
def client(tiny_model):
    app = create_app(ServeConfig(model=str(tiny_model["onnx"]), max_body_bytes=200_000, max_batch_images=8))
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def png(tiny_model) -> bytes:
    return sorted(tiny_model["images"].glob("*.png"))[0].read_bytes()


def assert_prediction(body: dict) -> None:
    assert isinstance(body["text"], str) and 0 <= body["confidence"] <= 1


def test_three_ways_to_send_one_image_agree(client, png):
    multipart = client.post("/predict", files={"file": ("c.png", png, "image/png")})
    raw = client.post("/predict", content=png, headers={"content-type": "image/png"})
    as_json = client.post("/predict", json={"image": base64.b64encode(png).decode()})
    for response in (multipart, raw, as_json):
        assert response.status_code == 200, response.text
        assert_prediction(response.json())
    assert multipart.json()["text"] == raw.json()["text"] == as_json.json()["text"]


def test_batches(client, png):
    files = [("files", (f"{i}.png", png, "image/png")) for i in range(3)]
    response = client.post("/predict/batch", files=files)
    assert response.status_code == 200 and len(response.json()["results"]) == 3
    response = client.post("/predict/batch", json={"images": [base64.b64encode(png).decode()] * 2})
    assert response.status_code == 200 and len(response.json()["results"]) == 2


def test_a_batch_of_images_of_two_widths_reads_as_one_by_one():
    """A padded CTC model reads a wide image at its own width: the micro-batcher runs each
    width as its own batch and hands every request its own reading."""
    images = []
    for width in (200, 640):
        buffer = io.BytesIO()
        Image.new("RGB", (width, 80), "white").save(buffer, format="PNG")
        images.append(buffer.getvalue())
    app = create_app(ServeConfig(model="general"))
    with TestClient(app) as general:
        alone = [general.post("/predict", content=png, headers={"content-type": "image/png"}).json() for png in images]
        batch = general.post(
            "/predict/batch", files=[("files", (f"{i}.png", png, "image/png")) for i, png in enumerate(images * 2)]
        )
    assert batch.status_code == 200, batch.text
    assert [r["text"] for r in batch.json()["results"]] == [r["text"] for r in alone * 2]
    assert app.state.recognizer.pixels(images[1]).shape[-1] == 384


def test_health_models_docs(client):
    health = client.get("/health").json()
    [model] = client.get("/models").json()
    # The model by the name it was served under, never the server's path or the whole card.
    assert health == {"status": "ok", "model": model["name"]} and "/" not in model["name"]
    assert model["architecture"] == "crnn_fast" and model["charset"].startswith("0123") and model["input"]["height"] == 64
    assert "path" not in model and "notes" not in json.dumps(model)
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert "/predict/batch" in paths
    assert {"400", "401", "408", "413"} <= set(paths["/predict"]["post"]["responses"])  # what a client must handle


def bomb() -> bytes:
    buffer = io.BytesIO()
    Image.new("1", (20000, 20000)).save(buffer, format="PNG")  # 400 megapixels, a few KB
    return buffer.getvalue()


@pytest.mark.parametrize(
    "kwargs,status,words",
    [
        (dict(content=b"x" * 300_000, headers={"content-type": "image/png"}), 413, "limit"),
        (dict(content=bomb(), headers={"content-type": "image/png"}), 413, "too large"),
        (dict(content=b"plain text", headers={"content-type": "image/png"}), 400, "not an image"),
        (dict(content=b"", headers={"content-type": "image/png"}), 400, "empty"),
        (dict(json={"image": "***not base64***"}), 400, "base64"),
        (dict(json={"picture": "abc"}), 400, "image"),
        (dict(content=b"{not json", headers={"content-type": "application/json"}), 400, "JSON"),
        (dict(files={"other": ("c.png", b"123", "image/png")}), 400, "file"),
    ],
)
def test_bad_input_is_a_clear_4xx(client, kwargs, status, words):
    response = client.post("/predict", **kwargs)
    assert response.status_code == status, response.text
    assert words in response.json()["detail"]


def test_too_many_images_in_a_batch(client, png):
    response = client.post("/predict/batch", json={"images": [base64.b64encode(png).decode()] * 9})
    assert response.status_code == 413


def test_api_key(tiny_model, png):
    app = create_app(ServeConfig(model=str(tiny_model["onnx"]), api_key="s3cret"))
    with TestClient(app) as c:
        assert c.post("/predict", content=png).status_code == 401
        assert c.post("/predict", content=png, headers={"x-api-key": "wrong"}).status_code == 401
        assert c.post("/predict", content=png, headers={"x-api-key": "s3cret"}).status_code == 200
        assert c.get("/health").status_code == 200  # health checks need no key


def test_the_server_reads_a_sites_alphabet_and_case(tiny_model, png):
    app = create_app(ServeConfig(model=str(tiny_model["onnx"]), only_chars="0123", fold_case=True))
    with TestClient(app) as c:
        response = c.post("/predict", content=png)
    assert response.status_code == 200 and set(response.json()["text"]) <= set("0123")


def test_real_server_on_loopback(tiny_model, png):
    with running_server("--model", str(tiny_model["onnx"]), "--only-length", "3") as port:
        url = f"http://127.0.0.1:{port}"
        response = httpx.post(f"{url}/predict", content=png, headers={"content-type": "image/png"}, timeout=10)
        assert response.status_code == 200
        assert_prediction(response.json())
        assert len(response.json()["text"]) == 3  # the option reached the workers through the environment


def test_docs_work_offline_and_describe_the_bodies(client):
    page = client.get("/docs").text
    assert "cdn." not in page and "https://" not in page.split("openapi.json")[0]
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', page)
    assert assets and all(client.get(a).status_code == 200 for a in assets)  # served by the app itself
    schema = client.get("/openapi.json").json()
    body = schema["paths"]["/predict"]["post"]["requestBody"]["content"]
    assert {"multipart/form-data", "application/json", "image/*"} <= set(body)
    assert body["application/json"]["schema"]["required"] == ["image"]
    response = schema["paths"]["/predict"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert response["$ref"].endswith("PredictionOut")
    assert "APIKeyHeader" in schema["components"]["securitySchemes"]
