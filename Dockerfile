# The switchboard binary: control plane, ext_proc server and demo provider
# (the same binary `make run` builds). Envoy runs from its official image;
# see docker-compose.yaml.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# vtprotobuf: go-control-plane's reflection-free marshallers (Makefile).
RUN CGO_ENABLED=0 go build -tags=vtprotobuf -trimpath -o /out/switchboard ./cmd/switchboard
# The governance store's directory (data/ next to the config), writable by
# the nonroot user; a fresh named volume takes its owner from here.
RUN mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/switchboard /usr/local/bin/switchboard
COPY examples/ /etc/switchboard/
COPY --from=build --chown=65532:65532 /out/data /etc/switchboard/data
COPY --from=build --chown=65532:65532 /out/data /etc/switchboard/config/data
ENTRYPOINT ["/usr/local/bin/switchboard"]
# The example config keeps Envoy's listener on loopback; docker-compose.yaml
# serves switchboard.docker.yaml, which opens it inside the container.
CMD ["serve", "--config", "/etc/switchboard/switchboard.yaml"]
