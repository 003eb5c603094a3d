package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/billing"
)

// Billing routes: the caller's subscription, Stripe Checkout and portal links, invoices, and the
// Stripe webhook. Without Stripe configured (Deps.Billing nil) each answers 503 and tiers are
// whatever administrators set.

type upgradeRequest struct {
	Tier polydev.Tier `json:"tier"`
}

func (s *Server) getSubscription(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	if s.billing == nil {
		return billing.ErrNotConfigured
	}
	st, err := s.billing.StatusOf(r.Context(), u)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, st)
}

func (s *Server) upgradeSubscription(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	if s.billing == nil {
		return billing.ErrNotConfigured
	}
	var in upgradeRequest
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	url, err := s.billing.Checkout(r.Context(), u, in.Tier)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]string{"url": url})
}

func (s *Server) subscriptionPortal(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	if s.billing == nil {
		return billing.ErrNotConfigured
	}
	url, err := s.billing.Portal(r.Context(), u)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]string{"url": url})
}

func (s *Server) listInvoices(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	if s.billing == nil {
		return billing.ErrNotConfigured
	}
	inv, err := s.billing.Invoices(r.Context(), u)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"invoices": inv})
}

// stripeWebhook takes Stripe's events. The body is read raw (the signature covers its exact
// bytes) and bounded; the Stripe-Signature header is checked before anything is parsed. Stripe
// retries any non-2xx answer, so only a bad request gets a 4xx.
func (s *Server) stripeWebhook(w http.ResponseWriter, r *http.Request) error {
	if s.billing == nil {
		return billing.ErrNotConfigured
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return polydev.Errorf(polydev.ETOOLARGE, "the event is larger than %d bytes", s.cfg.MaxBodyBytes)
		}
		return polydev.Wrap(polydev.EINVALID, err, "the body could not be read")
	}
	ch, err := s.billing.Webhook(r.Context(), body, r.Header.Get("Stripe-Signature"))
	if err != nil {
		return err
	}
	if ch.Applied && ch.From != ch.To {
		// The tier's rules apply now, not at the user's next request; the work outlives this
		// answer if Stripe hangs up.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), time.Minute)
		defer cancel()
		s.ApplyTierChange(ctx, ch)
	}
	return writeJSON(w, http.StatusOK, map[string]bool{"received": true})
}

// ApplyTierChange applies a user's new tier to what they already run (policy.TierRules); failures
// are logged, since the tier itself has changed already. serve calls it for the grace expirer too.
func (s *Server) ApplyTierChange(ctx context.Context, ch polydev.TierChange) {
	n, err := s.tierRules.Apply(ctx, ch.UserID)
	if err != nil {
		s.log.Warn("tier change: rules not applied", "user_id", ch.UserID, "tier", ch.To, "err", err)
		return
	}
	s.log.Info("tier change applied", "user_id", ch.UserID, "tier_from", ch.From, "tier_to", ch.To, "vms_stopped", n)
}
