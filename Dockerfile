# The HTTP service on a CPU, with the bundled models inside: no torch, no GPU packages.
#   docker build -t captcha-break .
#   docker run --rm -p 8000:8000 captcha-break                     # the default model, general
#   docker run --rm -p 8000:8000 -e CAPTCHA_BREAK_API_KEY=s3cret captcha-break --model captcha4
FROM python:3.11-slim

RUN useradd --create-home --uid 10001 app
WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY src ./src
# Reading captchas needs ONNX Runtime, not torch: the serve extra only.
RUN pip install --no-cache-dir --constraint constraints.txt ".[serve]" && rm -rf /root/.cache

USER app
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"
ENTRYPOINT ["captcha-break", "serve", "--host", "0.0.0.0", "--port", "8000", "--log-level", "warning"]
