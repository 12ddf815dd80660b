package governance

import "time"

// PeriodKind is a budget's period: a UTC day, a UTC month, or the scope's
// whole life.
type PeriodKind string

const (
	Day      PeriodKind = "day"
	Month    PeriodKind = "month"
	Lifetime PeriodKind = "lifetime"
)

// PeriodKinds in the order budgets are checked and reported.
var PeriodKinds = []PeriodKind{Day, Month, Lifetime}

// Period is one concrete period: "2026-12-03", "2026-12" or "lifetime".
// Spend is stored per scope and Period, so a new day starts at zero with
// nothing to reset.
type Period string

// PeriodOf is the period of kind p that holds t.
func PeriodOf(p PeriodKind, t time.Time) Period {
	t = t.UTC()
	switch p {
	case Day:
		return Period(t.Format("2006-01-02"))
	case Month:
		return Period(t.Format("2006-01"))
	default:
		return "lifetime"
	}
}

// PeriodEnd is when the period of kind p holding t ends and its budget
// starts afresh; zero for lifetime.
func PeriodEnd(p PeriodKind, t time.Time) time.Time {
	t = t.UTC()
	switch p {
	case Day:
		return time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, time.UTC)
	case Month:
		return time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC)
	default:
		return time.Time{}
	}
}
