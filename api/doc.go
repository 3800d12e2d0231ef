// Package api is collabd's HTTP surface: the chi router with every route
// listed in router.go, authentication, the REST handlers (one file per
// resource) and the WebSocket endpoint of the live protocol. errors.go is the
// one table from collab error codes to HTTP statuses and close codes.
//
// It imports collab, session and ot, plus chi, golang-jwt and
// gorilla/websocket, which appear nowhere else. It never imports a store:
// cmd/collabd hands it the stores as collab interfaces.
//
// Contracts: the REST API (docs/api.md) and the live protocol
// (docs/protocol.md).
package api
