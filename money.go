package polydev

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Money is an amount in millionths of a US dollar. Integers keep budgets and costs exact under any
// number of additions; JSON shows it as a decimal number of dollars.
type Money int64

// MaxMoney bounds amounts accepted from clients (one billion dollars).
const MaxMoney Money = 1_000_000_000 * 1_000_000

// Dollars returns m as a float for display.
func (m Money) Dollars() float64 { return float64(m) / 1e6 }

func (m Money) String() string { return "$" + strconv.FormatFloat(m.Dollars(), 'f', -1, 64) }

// MarshalJSON writes dollars with up to six decimals.
func (m Money) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, m.Dollars(), 'f', -1, 64), nil
}

// UnmarshalJSON reads a non-negative dollar amount, rounding to the nearest micro-dollar.
func (m *Money) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	v, err := MoneyFromDollars(f)
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// MoneyFromDollars converts a client-supplied dollar amount.
func MoneyFromDollars(f float64) (Money, error) {
	if math.IsNaN(f) || f < 0 || f > MaxMoney.Dollars() {
		return 0, fmt.Errorf("amount must be between 0 and %.0f dollars", MaxMoney.Dollars())
	}
	return Money(math.Round(f * 1e6)), nil
}

// MaxCounter is the ceiling of a money or token counter that accumulates (a key's spend, a batch's
// sum): about 2.3 trillion dollars in micro-dollars. Spend saturates there instead of wrapping, and
// a reservation that would take a key's reserved amount past it is refused. With spend and reserved
// both at most 2^61 and an amount at most MaxMoney, the budget check spend + reserved + amount can
// never overflow an int64, in Go or in SQL.
const MaxCounter = 1 << 61

// AddSat returns a + b for non-negative a and b, saturating at MaxCounter: accumulated money never
// wraps around to a negative amount.
func AddSat(a, b int64) int64 {
	a, b = max(a, 0), max(b, 0)
	if a >= MaxCounter || b >= MaxCounter-a {
		return MaxCounter
	}
	return a + b
}
