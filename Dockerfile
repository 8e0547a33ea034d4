# Minimal multi-stage build of the static ert binary.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/ert ./cmd/ert

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ert /ert
USER nonroot:nonroot
ENTRYPOINT ["/ert"]
