package orders

// Status is where an order is in its life.
type Status string

// The statuses of an order. Cancelled and refunded are final.
const (
	Pending   Status = "pending"
	Paid      Status = "paid"
	Fulfilled Status = "fulfilled"
	Cancelled Status = "cancelled"
	Refunded  Status = "refunded"
)

// Statuses lists every status, in life order.
var Statuses = []Status{Pending, Paid, Fulfilled, Cancelled, Refunded}

// Action is what staff or the buyer ask to do with an order.
type Action string

// The actions. CustomerCancel is the buyer's own cancel, narrower than the
// staff's Cancel: only an order nobody has been paid for yet.
const (
	Pay            Action = "pay"
	Fulfill        Action = "fulfill"
	Cancel         Action = "cancel"
	Refund         Action = "refund"
	CustomerCancel Action = "customer-cancel"
	// Expire is the pending-order sweep's cancel of an order left unpaid
	// past SHELF_PENDING_ORDER_TTL.
	Expire Action = "expire"
)

// Actions lists every action.
var Actions = []Action{Pay, Fulfill, Cancel, Refund, CustomerCancel, Expire}

// CancelReason says why an order was cancelled; every cancel records one.
type CancelReason string

// The cancel reasons, one per cancelling action.
const (
	ByCustomer CancelReason = "customer"
	ByAdmin    CancelReason = "admin"
	Expired    CancelReason = "expired"
)

// cancelReasons maps each action that can cancel an order to its reason.
var cancelReasons = map[Action]CancelReason{CustomerCancel: ByCustomer, Cancel: ByAdmin, Expire: Expired}

// transition is one allowed move.
type transition struct {
	to Status
	// returnsStock: the goods never left the warehouse, so the move puts the
	// order's units back on hand (in the same transaction, with ledger rows).
	returnsStock bool
}

// transitions is the whole state machine: every move not listed is illegal.
var transitions = map[Status]map[Action]transition{
	Pending: {
		Pay:            {to: Paid},
		Cancel:         {to: Cancelled, returnsStock: true},
		CustomerCancel: {to: Cancelled, returnsStock: true},
		Expire:         {to: Cancelled, returnsStock: true},
	},
	Paid: {
		Fulfill: {to: Fulfilled},
		Cancel:  {to: Cancelled, returnsStock: true},
		Refund:  {to: Refunded, returnsStock: true},
	},
	Fulfilled: {
		// The goods were shipped: the money goes back, the stock does not.
		Refund: {to: Refunded},
	},
}

// Next returns the status an order in from reaches by a, whether the move
// returns the order's stock, and false when the move is not allowed.
func Next(from Status, a Action) (to Status, returnsStock bool, ok bool) {
	t, ok := transitions[from][a]
	return t.to, t.returnsStock, ok
}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	for _, x := range Statuses {
		if x == s {
			return true
		}
	}
	return false
}
