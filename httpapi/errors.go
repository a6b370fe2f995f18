package httpapi

import (
	"errors"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"github.com/gathering/gathering/domain"
)

// errorBody is the one JSON shape of every error the API returns.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code      domain.Code         `json:"code"`
	Message   string              `json:"message"`
	Field     string              `json:"field,omitempty"` // the first field at fault
	Fields    []domain.FieldError `json:"fields,omitempty"`
	RequestID string              `json:"request_id,omitempty"`
}

// statusOf is the only place where application error codes become HTTP statuses.
func statusOf(code domain.Code) int {
	switch code {
	case domain.CodeInvalid:
		return http.StatusBadRequest
	case domain.CodeNotFound:
		return http.StatusNotFound
	case domain.CodeConflict, domain.CodeVersionConflict:
		return http.StatusConflict
	case domain.CodeUnauthorized:
		return http.StatusUnauthorized
	case domain.CodeForbidden:
		return http.StatusForbidden
	case domain.CodeUnavailable:
		return http.StatusServiceUnavailable
	case domain.CodeTimeout:
		return http.StatusGatewayTimeout
	case domain.CodeUpstream:
		return http.StatusBadGateway
	default:
		return http.StatusInternalServerError
	}
}

func writeError(c *fiber.Ctx, err error) error {
	var de *domain.Error
	detail := errorDetail{Code: domain.CodeInternal, Message: "internal error", RequestID: requestID(c)}
	var fe *fiber.Error
	switch {
	case errors.As(err, &de):
		detail.Code, detail.Message, detail.Fields = de.Code, de.Message, de.Fields
		if len(de.Fields) > 0 {
			detail.Field = de.Fields[0].Field
		}
		if de.Code == domain.CodeInternal || de.Err != nil {
			logger(c).Error().Err(err).Msg("request failed")
		}
	case errors.As(err, &fe):
		detail.Code, detail.Message = codeOfStatus(fe.Code), fe.Message
	default:
		logger(c).Error().Err(err).Msg("request failed")
	}
	status := statusOf(detail.Code)
	if fe != nil && de == nil {
		status = fe.Code
	}
	return c.Status(status).JSON(errorBody{Error: detail})
}

func codeOfStatus(status int) domain.Code {
	switch {
	case status == http.StatusNotFound || status == http.StatusMethodNotAllowed:
		return domain.CodeNotFound
	case status == http.StatusRequestEntityTooLarge || (status >= 400 && status < 500):
		return domain.CodeInvalid
	case status == http.StatusServiceUnavailable:
		return domain.CodeUnavailable
	default:
		return domain.CodeInternal
	}
}

func invalid(field, message string) error {
	return &domain.Error{Code: domain.CodeInvalid, Message: field + ": " + message,
		Fields: []domain.FieldError{{Field: field, Message: message}}}
}
