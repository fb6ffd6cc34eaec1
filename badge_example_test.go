package counter_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/resumecounter/counter"
)

func ExampleBadge_AppendSVG() {
	b := counter.Badge{Message: "42", Color: "green", Style: counter.StyleFlatSquare}
	os.Stdout.Write(b.AppendSVG(nil))
	// Output:
	// <svg xmlns="http://www.w3.org/2000/svg" width="23" height="20" role="img" aria-label="42"><title>42</title><g shape-rendering="crispEdges"><rect width="23" height="20" fill="#97ca00"/></g><g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" text-rendering="geometricPrecision" font-size="110"><text x="115" y="140" transform="scale(.1)" fill="#fff" textLength="130">42</text></g></svg>
}

// A counter badge: the count written with AppendNumber, drawn into a buffer
// reused across requests.
func ExampleBadge_AppendSVG_counter() {
	var num, svg []byte
	for _, n := range []int64{12345, 12346} {
		num = counter.AppendNumber(num[:0], n, counter.FormatGrouped)
		svg = counter.Badge{Label: "visitors", Message: string(num)}.AppendSVG(svg[:0])
		fmt.Println(len(svg), "bytes")
	}
	// Output:
	// 1103 bytes
	// 1103 bytes
}

func ExampleBadge_Validate() {
	for _, b := range []counter.Badge{
		{Label: "visitors", Message: "1.2k", Color: "#4c1", Style: counter.StylePlastic},
		{Label: "visitors", Message: "1.2k", Color: "purpel"},
		{Label: "visitors", Message: "1.2k", Style: "popout"},
		{Label: "visitors", Message: "1.2k", Style: counter.StyleSocial, Logo: "github"},
		{Label: "visitors", Message: "1.2k", Logo: "myspace"},
	} {
		err := b.Validate()
		fmt.Println(errors.Is(err, counter.ErrInvalidBadge), err)
	}
	// Output:
	// false <nil>
	// true counter: invalid badge: unknown color "purpel" (want a shields or CSS colour name, hex, rgb(), rgba(), hsl() or hsla())
	// true counter: invalid badge: unknown style "popout" (want flat, flat-square, plastic, for-the-badge or social)
	// false <nil>
	// true counter: invalid badge: unknown logo "myspace" (see counter.Logos)
}

func ExampleAppendNumber() {
	for _, n := range []int64{999, 1234, 12345, 999999, 1250000, -1500} {
		fmt.Printf("%s | %s | %s\n",
			counter.AppendNumber(nil, n, counter.FormatGrouped),
			counter.AppendNumber(nil, n, counter.FormatPlain),
			counter.AppendNumber(nil, n, counter.FormatMetric))
	}
	// Output:
	// 999 | 999 | 999
	// 1,234 | 1234 | 1.2k
	// 12,345 | 12345 | 12k
	// 999,999 | 999999 | 1M
	// 1,250,000 | 1250000 | 1.3M
	// -1,500 | -1500 | -1.5k
}
