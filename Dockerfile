# The switchboard binary: control plane, ext_proc server and demo provider
# (the same binary `make run` builds). Envoy runs from its official image;
# see docker-compose.yaml.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/switchboard ./cmd/switchboard

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/switchboard /usr/local/bin/switchboard
COPY examples/ /etc/switchboard/
ENTRYPOINT ["/usr/local/bin/switchboard"]
# The example config keeps Envoy's listener on loopback; docker-compose.yaml
# serves switchboard.docker.yaml, which opens it inside the container.
CMD ["serve", "--config", "/etc/switchboard/switchboard.yaml"]
