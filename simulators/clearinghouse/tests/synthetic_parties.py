"""The synthetic submitter, receiver, providers, payers and address the simulator's tests bill with."""

from __future__ import annotations

from openrcm_shared.x12.claim_837 import Address, BillingProvider, Payer, Receiver, Submitter

SUBMITTER = Submitter(name="OPENRCM BILLING", identifier="OPENRCM01", contact_name="CLAIMS DESK",
                      contact_phone="3055550100")
RECEIVER = Receiver(name="OPENRCM CLEARINGHOUSE SIM", identifier="CLEARHOUSE01")
CLINIC = BillingProvider(npi="1234567893", tax_id="123456789", name="SUNRISE FAMILY MEDICINE",
                         address=Address(line1="100 MAIN ST", city="MIAMI", state="FL", postal_code="33111-1234"))
HOSPITAL = BillingProvider(npi="1222222220", tax_id="987654321", name="BAYSIDE COMMUNITY HOSPITAL",
                           address=Address(line1="1 HOSPITAL DR", city="TAMPA", state="FL", postal_code="336020001"))
ACME = Payer(name="ACME HEALTH PLAN", payer_id="60054")
BLUE = Payer(name="BLUE SAMPLE INSURANCE", payer_id="BSI01")
HOME = Address(line1="12 OAK AVE", city="MIAMI", state="FL", postal_code="33101")
