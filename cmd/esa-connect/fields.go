package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/esa-connect/esa-connect/config"
)

func fieldsCommand() *cli.Command {
	return &cli.Command{
		Name:      "fields",
		Usage:     "Print the field catalog of a log category",
		ArgsUsage: "<category>",
		Description: `Prints the fields that a task of the category can deliver and filter on: name,
type and description, in catalog order. Without a category it lists the categories.
Categories: access, firewall, tcp_udp_proxy, dns, edge_routine, edge_container
(ESA BusinessType ids such as dcdn_log_access_l1 are accepted too).`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print JSON instead of a table"},
		},
		Action: func(c *cli.Context) error {
			w := c.App.Writer
			if c.NArg() == 0 {
				return printCategories(w, c.Bool("json"))
			}
			if c.NArg() > 1 {
				return failure("esa-connect fields: expected one category, e.g. esa-connect fields access")
			}
			name := c.Args().First()
			cat, ok := config.LookupCategory(name)
			if !ok {
				var names []string
				for _, c := range config.Categories() {
					names = append(names, c.Name)
				}
				msg := fmt.Sprintf("esa-connect fields: unknown log category %q (categories: %s)", name, strings.Join(names, ", "))
				if s := config.Suggest(name, names); s != "" {
					msg += fmt.Sprintf("; did you mean %q?", s)
				}
				return failure(msg)
			}
			return printFields(w, cat, c.Bool("json"))
		},
	}
}

// jsonField is one catalog field in `fields --json`.
type jsonField struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Group string `json:"group,omitempty"`
	About string `json:"about"`
}

// printFields prints the catalog of cat as a table or JSON.
func printFields(w io.Writer, cat *config.Category, asJSON bool) error {
	if asJSON {
		out := struct {
			Category     string      `json:"category"`
			Title        string      `json:"title"`
			APIID        string      `json:"api_id,omitempty"`
			TimeField    string      `json:"time_field"`
			CustomFields bool        `json:"custom_fields"`
			Fields       []jsonField `json:"fields"`
		}{Category: cat.Name, Title: cat.Title, APIID: cat.APIID, TimeField: cat.TimeField, CustomFields: cat.CustomFields}
		for _, f := range cat.Fields {
			out.Fields = append(out.Fields, jsonField{Name: f.Name, Type: string(f.Type), Group: f.Group, About: f.About})
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	fmt.Fprintf(w, "%s (%s): %d fields; event time field %s", cat.Title, cat.Name, len(cat.Fields), cat.TimeField)
	if cat.CustomFields {
		fmt.Fprint(w, "; custom fields (request_headers, response_headers, cookies) available")
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTYPE\tABOUT")
	for _, f := range cat.Fields {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", f.Name, f.Type, f.About)
	}
	return tw.Flush()
}

// printCategories lists the categories.
func printCategories(w io.Writer, asJSON bool) error {
	if asJSON {
		type jsonCat struct {
			Name   string `json:"name"`
			Title  string `json:"title"`
			APIID  string `json:"api_id,omitempty"`
			Fields int    `json:"fields"`
		}
		var out []jsonCat
		for _, c := range config.Categories() {
			out = append(out, jsonCat{Name: c.Name, Title: c.Title, APIID: c.APIID, Fields: len(c.Fields)})
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CATEGORY\tESA ID\tFIELDS\tTITLE")
	for _, c := range config.Categories() {
		id := c.APIID
		if id == "" {
			id = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", c.Name, id, len(c.Fields), c.Title)
	}
	return tw.Flush()
}
