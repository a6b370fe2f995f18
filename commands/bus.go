package commands

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/ThreeDotsLabs/watermill/components/requestreply"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/internal/wmlog"
)

// reply crosses the bus as JSON, so an error travels as its code, message and fields rather
// than as a Go error that would arrive as a bare string.
type reply struct {
	Result Result      `json:"result"`
	Error  *replyError `json:"error,omitempty"`
}

type replyError struct {
	Code    domain.Code         `json:"code"`
	Message string              `json:"message"`
	Fields  []domain.FieldError `json:"fields,omitempty"`
}

// Bus sends commands to their handlers and waits for each one's result. The transport is an
// in-process watermill GoChannel: commands are not durable messages, their events are, and a
// request whose process dies was never acknowledged to anyone.
type Bus struct {
	pubsub  *gochannel.GoChannel
	router  *message.Router
	bus     *cqrs.CommandBus
	proc    *cqrs.CommandProcessor
	backend *requestreply.PubSubBackend[reply]
	logger  zerolog.Logger
	// slots bounds the commands in flight; a full bus pushes back on the router, and so on
	// the callers, instead of growing goroutines without limit.
	slots   chan struct{}
	timeout time.Duration
	running chan struct{}
	closed  sync.Once
}

// NewBus builds the bus. Register handlers, then Run it.
func NewBus(logger zerolog.Logger, maxInFlight int) (*Bus, error) {
	wl := watermillLogger(logger)
	ps := gochannel.NewGoChannel(gochannel.Config{OutputChannelBuffer: 256}, wl)
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 30 * time.Second}, wl)
	if err != nil {
		return nil, err
	}
	topic := func(name string) string { return "commands." + name }
	bus, err := cqrs.NewCommandBusWithConfig(ps, cqrs.CommandBusConfig{
		GeneratePublishTopic: func(p cqrs.CommandBusGeneratePublishTopicParams) (string, error) { return topic(p.CommandName), nil },
		Marshaler:            cqrs.JSONMarshaler{},
		Logger:               wl,
	})
	if err != nil {
		return nil, err
	}
	proc, err := cqrs.NewCommandProcessorWithConfig(router, cqrs.CommandProcessorConfig{
		GenerateSubscribeTopic: func(p cqrs.CommandProcessorGenerateSubscribeTopicParams) (string, error) {
			return topic(p.CommandName), nil
		},
		SubscriberConstructor: func(cqrs.CommandProcessorSubscriberConstructorParams) (message.Subscriber, error) { return ps, nil },
		Marshaler:             cqrs.JSONMarshaler{},
		Logger:                wl,
	})
	if err != nil {
		return nil, err
	}
	replyTopic := func(id requestreply.OperationID) string { return "replies." + string(id) }
	backend, err := requestreply.NewPubSubBackend[reply](requestreply.PubSubBackendConfig{
		Publisher: ps,
		SubscriberConstructor: func(requestreply.PubSubBackendSubscribeParams) (message.Subscriber, error) {
			return ps, nil
		},
		GeneratePublishTopic: func(p requestreply.PubSubBackendPublishParams) (string, error) {
			return replyTopic(p.OperationID), nil
		},
		GenerateSubscribeTopic: func(p requestreply.PubSubBackendSubscribeParams) (string, error) {
			return replyTopic(p.OperationID), nil
		},
		Logger:           wl,
		AckCommandErrors: true,
	}, requestreply.BackendPubsubJSONMarshaler[reply]{})
	if err != nil {
		return nil, err
	}
	if maxInFlight <= 0 {
		maxInFlight = 64
	}
	return &Bus{pubsub: ps, router: router, bus: bus, proc: proc, backend: backend, logger: logger,
		slots: make(chan struct{}, maxInFlight), timeout: 30 * time.Second, running: make(chan struct{})}, nil
}

// handle registers the handler of one command type. The router delivers a handler's commands
// one at a time, so the work runs in its own goroutine (bounded by slots) and replies when done:
// concurrent requests must not queue behind each other's database round trips.
func handle[C any](b *Bus, name string, fn func(ctx context.Context, cmd *C) (Result, error)) {
	err := b.proc.AddHandlers(cqrs.NewCommandHandler(name, func(ctx context.Context, cmd *C) error {
		original := cqrs.OriginalMessageFromCtx(ctx)
		b.slots <- struct{}{}
		go func() {
			defer func() { <-b.slots }()
			workCtx, cancel := context.WithTimeout(context.Background(), b.timeout)
			defer cancel()
			res, err := fn(workCtx, cmd)
			out := reply{Result: res}
			if err != nil {
				out.Error = b.toReplyError(name, err)
			}
			if err := b.backend.OnCommandProcessed(workCtx, requestreply.BackendOnCommandProcessedParams[reply]{
				Command: cmd, CommandMessage: original, HandlerResult: out}); err != nil {
				b.logger.Error().Err(err).Str("command", name).Msg("cannot deliver command reply")
			}
		}()
		return nil
	}))
	if err != nil {
		panic(fmt.Sprintf("commands: register %s: %v", name, err))
	}
}

func (b *Bus) toReplyError(command string, err error) *replyError {
	var de *domain.Error
	if errors.As(err, &de) {
		return &replyError{Code: de.Code, Message: de.Message, Fields: de.Fields}
	}
	// Internal causes stay in the log; the caller gets a code and a request id to quote.
	b.logger.Error().Err(err).Str("command", command).Msg("command failed")
	return &replyError{Code: domain.CodeInternal, Message: "internal error"}
}

// Run starts the command processor and returns once it is ready.
func (b *Bus) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- b.router.Run(ctx) }()
	select {
	case <-b.router.Running():
		close(b.running)
		return nil
	case err := <-errc:
		return err
	}
}

// Close stops taking commands and waits for the router's handlers; commands already running
// keep their own context until they finish.
func (b *Bus) Close() error {
	var err error
	b.closed.Do(func() {
		err = b.router.Close()
		// Wait for in-flight command goroutines by taking every slot.
		for i := 0; i < cap(b.slots); i++ {
			b.slots <- struct{}{}
		}
		err = errors.Join(err, b.pubsub.Close())
	})
	return err
}

// Send delivers cmd to its handler and returns the handler's result or its *domain.Error.
func (b *Bus) Send(ctx context.Context, cmd any) (Result, error) {
	select {
	case <-b.running:
	default:
		return Result{}, domain.Errorf(domain.CodeUnavailable, "the command bus is not running")
	}
	r, err := requestreply.SendWithReply[reply](ctx, b.bus, b.backend, cmd)
	if err != nil {
		if ctx.Err() != nil {
			return Result{}, &domain.Error{Code: domain.CodeTimeout, Message: "the command did not finish in time", Err: err}
		}
		return Result{}, err
	}
	if r.Error != nil {
		return Result{}, r.Error
	}
	if e := r.HandlerResult.Error; e != nil {
		return r.HandlerResult.Result, &domain.Error{Code: e.Code, Message: e.Message, Fields: e.Fields}
	}
	return r.HandlerResult.Result, nil
}

// NewEnvelope starts the envelope of a command sent on behalf of actor.
func NewEnvelope(actor domain.Actor, correlationID string) Envelope {
	id := uuid.NewString()
	if correlationID == "" {
		correlationID = id
	}
	return Envelope{CommandID: id, Actor: actor.ID, ActorRole: actor.Role, CorrelationID: correlationID}
}

func watermillLogger(l zerolog.Logger) watermill.LoggerAdapter { return wmlog.New(l) }
