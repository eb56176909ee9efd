package cantata

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Sentinels for the status codes the server answers with; match them with errors.Is.
var (
	ErrInvalidArgument   = errors.New("cantata: invalid argument")
	ErrNotFound          = errors.New("cantata: not found")
	ErrResourceExhausted = errors.New("cantata: resource exhausted")
	ErrUnavailable       = errors.New("cantata: unavailable")
	ErrDeadlineExceeded  = errors.New("cantata: deadline exceeded")
	ErrUnauthenticated   = errors.New("cantata: unauthenticated")
	ErrPermissionDenied  = errors.New("cantata: permission denied")
	ErrCanceled          = errors.New("cantata: canceled")
	ErrInternal          = errors.New("cantata: internal error")
)

var sentinels = map[codes.Code]error{
	codes.InvalidArgument:   ErrInvalidArgument,
	codes.NotFound:          ErrNotFound,
	codes.ResourceExhausted: ErrResourceExhausted,
	codes.Unavailable:       ErrUnavailable,
	codes.DeadlineExceeded:  ErrDeadlineExceeded,
	codes.Unauthenticated:   ErrUnauthenticated,
	codes.PermissionDenied:  ErrPermissionDenied,
	codes.Canceled:          ErrCanceled,
	codes.Internal:          ErrInternal,
}

// Error is a failed call: the gRPC status code, the server's message and the request id the
// call ran under (the server's, when it answered with one).
type Error struct {
	Code      codes.Code
	Message   string
	RequestID string
}

func (e *Error) Error() string {
	if e.RequestID == "" {
		return fmt.Sprintf("cantata: %s: %s", e.Code, e.Message)
	}
	return fmt.Sprintf("cantata: %s: %s (request id %s)", e.Code, e.Message, e.RequestID)
}

// Is makes errors.Is(err, ErrNotFound) and the like true for an error of that code.
func (e *Error) Is(target error) bool {
	return sentinels[e.Code] == target && target != nil
}

// GRPCStatus lets status.FromError and status.Code see the original code.
func (e *Error) GRPCStatus() *status.Status {
	return status.New(e.Code, e.Message)
}

// wrapError turns a gRPC error (or a context's) into an *Error; nil and io.EOF pass through.
func wrapError(err error, requestID string) error {
	if err == nil {
		return nil
	}
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	if s, ok := status.FromError(err); ok {
		return &Error{Code: s.Code(), Message: s.Message(), RequestID: requestID}
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Code: codes.DeadlineExceeded, Message: err.Error(), RequestID: requestID}
	case errors.Is(err, context.Canceled):
		return &Error{Code: codes.Canceled, Message: err.Error(), RequestID: requestID}
	}
	return err
}
