from sallyport.cli import main

raise SystemExit(main())
